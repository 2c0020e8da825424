// A verdict with its evidence and its limits: "Likely fake" / "Uncertain" / "Likely real", the fake
// probability in words, the reasons, every model's score side by side, whether the scores are calibrated,
// the robustness self-test and the backend. Used by the image, camera, video and history pages.

import { formatPercent, h } from "./dom.js";

export const VERDICT_WORDS = { fake: "Likely fake", uncertain: "Uncertain", real: "Likely real" };
const VARIANT_WORDS = { jpeg: "after JPEG re-compression", rescale: "after half-size down- and up-scaling" };

/** "fake", "uncertain" or "real" from the answer's verdict; answers stored before it have only is_fake. */
export function verdictKind(answer) {
  if (answer && VERDICT_WORDS[answer.verdict]) return answer.verdict;
  if (!answer || answer.is_fake === null || answer.is_fake === undefined) return null;
  return answer.is_fake ? "fake" : "real";
}

/** The fake probability in percent: fake_probability, else derived from is_fake and the confidence in it. */
export function fakePercent(answer) {
  const probability = answer && answer.fake_probability;
  if (probability !== null && probability !== undefined && !Number.isNaN(Number(probability))) return Number(probability) * 100;
  const confidence = answer && (answer.confidence ?? answer.confidence_score);
  if (confidence === null || confidence === undefined || answer.is_fake === null || answer.is_fake === undefined) return null;
  return answer.is_fake ? Number(confidence) : 100 - Number(confidence);
}

/** "73% fake": whole percent, as the API's reasons word it (0% and 100% only when exactly so; "—" when unknown). */
export function fakeWords(percent) {
  if (percent === null || percent === undefined || Number.isNaN(Number(percent))) return "—";
  const value = Number(percent);
  const whole = Math.min(Math.max(Math.round(value), value > 0 ? 1 : 0), value < 100 ? 99 : 100);
  return `${formatPercent(whole)} fake`;
}

/** A small badge: "Likely fake", "Uncertain" or "Likely real". */
export function verdictBadge(kind) {
  if (!kind) return h("span", { class: "badge" }, "—");
  return h("span", { class: `badge badge-${kind}`, "data-verdict": kind }, VERDICT_WORDS[kind]);
}

/**
 * The headline: the verdict in words and the fake probability ("73% fake"), or score (text) instead.
 * live: announced by the caller (the camera redraws every frame), so no role=status here.
 */
export function verdictHeadline(answer, { id, live = false, score } = {}) {
  const kind = verdictKind(answer) || "uncertain";
  const percent = fakePercent(answer);
  return h(
    "div",
    { class: `verdict verdict-${kind}`, id, "data-verdict": kind, role: live ? null : "status" },
    h("span", { class: "verdict-label" }, VERDICT_WORDS[kind]),
    h("span", { class: "verdict-score" }, score || fakeWords(percent)),
    percent === null ? null : h("span", { class: "meter", "aria-hidden": "true" }, h("span", { style: { width: `${clamp(percent)}%` } })),
  );
}

function clamp(percent) {
  return Math.max(0, Math.min(100, Number(percent) || 0));
}

/** A member's probability: its calibrated one when a calibration applied, else its raw output. */
function memberProbability(member) {
  return member.calibrated_probability ?? member.raw_probability;
}

function isCalibrated(member) {
  return member.calibrated_probability !== null && member.calibrated_probability !== undefined;
}

/** One bar per model, side by side: name, score, band, and "raw" when the score is not calibrated. */
function memberBars(members, idPrefix) {
  return h(
    "div",
    { class: "member-bars", id: `${idPrefix}-members` },
    h("h3", { class: "evidence-title" }, members.length > 1 ? "Each model's score" : "The model's score"),
    h(
      "ul",
      { class: "member-list" },
      members.map((member) => {
        const percent = Number(memberProbability(member)) * 100;
        const tone = member.band === "likely fake" ? "fake" : member.band === "likely real" ? "real" : "uncertain";
        return h(
          "li",
          { class: `member-bar member-${tone}`, "data-key": member.key },
          h("span", { class: "member-name" }, member.name || member.key),
          h(
            "span",
            { class: "bar", role: "img", "aria-label": `${member.name || member.key}: ${fakeWords(percent)}` },
            h("span", { style: { width: `${clamp(percent)}%` } }),
          ),
          h("span", { class: "member-score" }, fakeWords(percent)),
          h("span", { class: "member-band hint" }, `${member.band || ""}${isCalibrated(member) ? "" : " (raw score)"}`),
        );
      }),
    ),
  );
}

/** Whether the scores are calibrated probabilities, said plainly either way. */
function calibrationNotice(answer, members, idPrefix) {
  const raw = members.filter((member) => !isCalibrated(member));
  const applied = (answer.calibration && answer.calibration.members) || {};
  const calibrated = members.filter(isCalibrated);
  let text;
  if (!answer.calibration || !calibrated.length) {
    text =
      members.length > 1
        ? "These scores are the models' raw outputs, not calibrated probabilities: a model's 90% does not mean that 9 in 10 such images are fake."
        : "This score is the model's raw output, not a calibrated probability: 90% does not mean that 9 in 10 such images are fake.";
  } else {
    const named = calibrated.map((member) => {
      const fit = applied[member.key] || {};
      const size = fit.n_real !== undefined ? `, fitted on ${fit.n_real + fit.n_fake} labelled examples` : "";
      return `${member.name || member.key} (calibration${fit.id !== undefined ? ` #${fit.id}` : ""}${size})`;
    });
    text = `Calibrated probabilities: ${named.join(", ")}.`;
    if (raw.length) text += ` Raw outputs, not calibrated probabilities: ${raw.map((member) => member.name || member.key).join(", ")}.`;
  }
  return h("p", { class: `calibration-notice${raw.length || !answer.calibration ? " is-raw" : ""}`, id: `${idPrefix}-calibration` }, text);
}

/** The robustness self-test: each model's score after each variant, and whether it held. */
function robustnessView(robustness, members, idPrefix) {
  const names = Object.fromEntries(members.map((member) => [member.key, member.name || member.key]));
  const entries = Object.entries(robustness.members || {});
  return h(
    "div",
    { class: "robustness", id: `${idPrefix}-robustness`, "data-stable": String(Boolean(robustness.stable)) },
    h("h3", { class: "evidence-title" }, "Robustness self-test"),
    h(
      "p",
      { class: "hint" },
      robustness.stable
        ? "The verdict held after JPEG re-compression and after half-size rescaling."
        : "The verdict did not hold after re-compression or rescaling, so it is uncertain.",
    ),
    h(
      "ul",
      { class: "member-list" },
      entries.map(([key, test]) =>
        h(
          "li",
          { "data-key": key, "data-stable": String(Boolean(test.stable)) },
          h("strong", {}, names[key] || key),
          `: ${test.stable ? "stable" : "unstable"}`,
          test.original !== undefined ? `; original ${fakeWords(Number(test.original) * 100)}` : "",
          Object.entries(test.variants || {}).map(([variant, p]) => `; ${VARIANT_WORDS[variant] || variant} ${fakeWords(Number(p) * 100)}`),
        ),
      ),
    ),
  );
}

/**
 * The evidence under a headline: reasons, faces, each model's score as bars, the calibration notice, the
 * self-test and the backend. Fields missing from older answers are left out; the notice always shows.
 */
export function verdictEvidence(answer, { idPrefix }) {
  const members = Array.isArray(answer.members) ? answer.members : [];
  const reasons = Array.isArray(answer.reasons) ? answer.reasons : [];
  return h(
    "div",
    { class: "evidence stack", id: `${idPrefix}-evidence` },
    reasons.length
      ? h("div", {}, h("h3", { class: "evidence-title" }, "Why"), h("ul", { class: "reasons", id: `${idPrefix}-reasons` }, reasons.map((reason) => h("li", {}, capitaliseFirst(reason)))))
      : null,
    answer.faces_summary ? h("p", { class: "faces-summary", id: `${idPrefix}-faces-summary` }, `Faces: ${answer.faces_summary}.`) : null,
    members.length ? memberBars(members, idPrefix) : null,
    calibrationNotice(answer, members, idPrefix),
    answer.robustness ? robustnessView(answer.robustness, members, idPrefix) : null,
    answer.backend ? h("p", { class: "hint backend", id: `${idPrefix}-backend` }, `Computed with ${answer.backend}.`) : null,
  );
}

function capitaliseFirst(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
}
