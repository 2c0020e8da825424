"""Browser app: serves the single-page app at / and its static files under /assets/."""

from pathlib import Path

from flask import Blueprint, Flask, send_from_directory

STATIC_DIR = Path(__file__).parent / "static"

# A distinct static URL keeps the blueprint's files reachable next to the app's own /static route.
blueprint = Blueprint("web", __name__, static_folder="static", static_url_path="/assets")


# The app needs nothing from elsewhere: scripts, styles and data come from this server; images are blobs
# of authenticated media; the camera stream is attached as an object, not a URL.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


@blueprint.after_request
def security_headers(response):
    """Lock the app's pages and assets to this origin."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


@blueprint.get("/")
def index():
    """Serve the single-page app shell; routing happens in the browser (hash routes)."""
    # The shell must never be cached: it names the scripts, and a stale shell would pin old ones.
    response = send_from_directory(STATIC_DIR, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


def init_app(app: Flask) -> None:
    """Register the web app blueprint on the Flask application."""
    app.register_blueprint(blueprint)
