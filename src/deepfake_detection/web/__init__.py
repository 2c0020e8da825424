"""Browser app: serves the single-page app at / and its static files under /assets/."""

from pathlib import Path

from flask import Blueprint, Flask, send_from_directory

STATIC_DIR = Path(__file__).parent / "static"

# A distinct static URL keeps the blueprint's files reachable next to the app's own /static route.
blueprint = Blueprint("web", __name__, static_folder="static", static_url_path="/assets")


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
