"""Lessons as files: a TOML file of steps, validated against a schema when it is loaded.

A lesson has a `title`, an optional `summary` and `[[steps]]`. Each step has a `title`, a `text` (plain text, at
most MAX_WORDS words: it is shown as text, never as Markdown or HTML), a `question` and its `answer`, a
`[steps.view]` (`kind` and that kind's parameters, VIEWS) and a `[steps.try]` control (`control`, one the view
accepts, with an optional `label` and `default`). A broken file raises LessonError naming the file, the step and
the field. The built-in lessons ship beside this module (lessons/); a teacher's go in RNN_EXPLORER_HOME/lessons/.
"""

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BUILT_IN = Path(__file__).resolve().parent / "lessons"
SUFFIX = ".toml"
MAX_BYTES = 200_000  # a lesson is a page of text: anything larger is not one
MAX_STEPS = 30
MAX_WORDS = 90  # "about 80 words" a step
MAX_TITLE = 80
MAX_ANSWER_WORDS = 120
MAX_DELAY = 60
DIGITS = 1000  # the bundled test digits a control may pick
STEP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # a model's name in the app's listing


@dataclass(frozen=True)
class ViewKind:
    """What a view draws, the parameters it takes (name -> type and whether required) and the controls it accepts."""

    params: dict
    controls: tuple[str, ...]


# view kind -> its schema. Types: "model" a model name, "models" a list of them, "bias_models" a table of forget-gate
# bias ("0", "1", ...) -> model name, "delay_kind" "noise" or "blank", "weights" "trained" or "untrained" (a fresh
# model of the same architecture and forget-gate bias, as training starts).
VIEWS = {
    "watch": ViewKind({"model": ("model", True)}, ("digit",)),
    "memory": ViewKind({"models": ("models", True), "rows": ("delay_kind", False)}, ("delay", "digit")),
    "chain": ViewKind({"model": ("model", True), "weights": ("weights", False)}, ("digit", "truncation")),
    "truncation": ViewKind({"model": ("model", True)}, ("truncation",)),
    "sweep": ViewKind({}, ("truncation",)),
    "forget": ViewKind({"models": ("bias_models", True)}, ("bias",)),
    "accuracy": ViewKind({"models": ("models", True), "rows": ("delay_kind", False)}, ("delay",)),
}
CONTROLS = ("digit", "delay", "truncation", "bias")
DEFAULTS = {"digit": 0, "delay": 20, "truncation": 8, "bias": None}
RANGES = {"digit": (0, DIGITS - 1), "delay": (0, MAX_DELAY), "truncation": (1, MAX_DELAY + 28)}


class LessonError(ValueError):
    """A lesson file that cannot be used: the message names the file, the step and the field."""

    def __init__(self, file: str, problem: str, step: int | None = None, key: str | None = None):
        where = [file] + ([f"step {step}"] if step is not None else []) + ([f"field '{key}'"] if key else [])
        super().__init__(", ".join(where) + f": {problem}")
        self.file, self.step, self.field, self.problem = file, step, key, problem


@dataclass(frozen=True)
class TryIt:
    control: str  # one of CONTROLS
    label: str
    default: object  # int (digit, delay, truncation) or str (bias: a key of the view's models)


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    view: str  # a key of VIEWS
    params: dict
    tryit: TryIt
    question: str
    answer: str

    def models(self) -> list[tuple[str, str]]:
        """(field, model name) of every model the step's view needs."""
        out = []
        for key, value in self.params.items():
            kind = VIEWS[self.view].params[key][0]
            if kind == "model":
                out.append((f"view.{key}", value))
            elif kind == "models":
                out += [(f"view.{key}", v) for v in value]
            elif kind == "bias_models":
                out += [(f"view.{key}", v) for v in value.values()]
        return out


@dataclass(frozen=True)
class Lesson:
    name: str  # the file's stem: how the page and the URL name it
    title: str
    summary: str
    steps: tuple[Step, ...] = field(default_factory=tuple)
    built_in: bool = True


def _text(file, step, data, key, max_words=None, max_chars=None, required=True) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise LessonError(file, "is missing", step, key)
        return ""
    if not isinstance(value, str) or not value.strip():
        raise LessonError(file, "must be a non-empty text", step, key)
    value = " ".join(value.split())  # one paragraph: line breaks in the file are for the author
    if max_words and len(value.split()) > max_words:
        raise LessonError(file, f"has {len(value.split())} words; at most {max_words}", step, key)
    if max_chars and len(value) > max_chars:
        raise LessonError(file, f"has {len(value)} characters; at most {max_chars}", step, key)
    return value


def _unknown(file, step, data: dict, known, where: str) -> None:
    extra = sorted(set(data) - set(known))
    if extra:
        raise LessonError(file, f"is not a field of {where} (known: {', '.join(sorted(known))})", step, extra[0])


def _param(file, step, key, kind, value):
    name_ok = lambda v: isinstance(v, str) and STEP_NAME.fullmatch(v)  # noqa: E731
    if kind == "model" and not name_ok(value):
        raise LessonError(file, 'must be a model\'s name, e.g. "lstm-128"', step, key)
    if kind == "models" and not (isinstance(value, list) and 1 <= len(value) <= 4 and all(map(name_ok, value))):
        raise LessonError(file, "must be a list of 1 to 4 model names", step, key)
    if kind == "bias_models":
        if not (isinstance(value, dict) and 2 <= len(value) <= 4 and all(map(name_ok, value.values()))):
            raise LessonError(file, "must be a table of 2 to 4 forget-gate biases -> model names", step, key)
        for bias in value:
            try:
                float(bias)
            except ValueError:
                raise LessonError(file, f"{bias!r} is not a number (a forget-gate bias)", step, key) from None
    if kind == "delay_kind" and value not in ("noise", "blank"):
        raise LessonError(file, 'must be "noise" or "blank"', step, key)
    if kind == "weights" and value not in ("trained", "untrained"):
        raise LessonError(file, 'must be "trained" or "untrained"', step, key)
    return value


def _view(file, step, data) -> tuple[str, dict]:
    view = data.get("view")
    if not isinstance(view, dict):
        raise LessonError(file, "is missing (a table with a `kind`)", step, "view")
    kind = view.get("kind")
    if kind not in VIEWS:
        raise LessonError(file, f"must be one of {', '.join(VIEWS)}, got {kind!r}", step, "view.kind")
    schema = VIEWS[kind].params
    _unknown(file, step, view, {"kind", *schema}, f"a {kind} view")
    params = {}
    for key, (ptype, required) in schema.items():
        if key not in view:
            if required:
                raise LessonError(file, f"is missing (a {kind} view needs it)", step, f"view.{key}")
            continue
        params[key] = _param(file, step, f"view.{key}", ptype, view[key])
    return kind, params


def _try(file, step, data, view: str, params: dict) -> TryIt:
    t = data.get("try")
    if not isinstance(t, dict):
        raise LessonError(file, "is missing (a table with a `control`)", step, "try")
    _unknown(file, step, t, {"control", "label", "default"}, "a try-it control")
    control = t.get("control")
    if control not in VIEWS[view].controls:
        raise LessonError(
            file, f"a {view} view takes {' or '.join(VIEWS[view].controls)}, got {control!r}", step, "try.control"
        )
    label = _text(file, step, t, "label", max_chars=MAX_TITLE, required=False) or control.capitalize()
    default = t.get("default", DEFAULTS[control])
    if control == "bias":
        biases = list(params["models"])
        default = biases[0] if default is None else str(default)
        if default not in biases:
            raise LessonError(file, f"must be one of the view's biases {', '.join(biases)}", step, "try.default")
    else:
        low, high = RANGES[control]
        if isinstance(default, bool) or not isinstance(default, int) or not low <= default <= high:
            raise LessonError(file, f"must be a whole number in {low}..{high}", step, "try.default")
    return TryIt(control, label, default)


def parse_lesson(text: str, name: str, file: str, built_in: bool = False) -> Lesson:
    """A lesson from the text of its file (`file` names it in errors); LessonError if anything is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LessonError(file, f"is not valid TOML ({e})") from None
    _unknown(file, None, data, {"title", "summary", "steps"}, "a lesson")
    title = _text(file, None, data, "title", max_chars=MAX_TITLE)
    summary = _text(file, None, data, "summary", max_words=MAX_WORDS, required=False)
    raw = data.get("steps")
    if not isinstance(raw, list) or not raw or not all(isinstance(s, dict) for s in raw):
        raise LessonError(file, "needs at least one [[steps]] table", None, "steps")
    if len(raw) > MAX_STEPS:
        raise LessonError(file, f"has {len(raw)} steps; at most {MAX_STEPS}", None, "steps")
    steps = []
    for n, s in enumerate(raw, 1):
        _unknown(file, n, s, {"title", "text", "view", "try", "question", "answer"}, "a step")
        view, params = _view(file, n, s)
        steps.append(
            Step(
                _text(file, n, s, "title", max_chars=MAX_TITLE),
                _text(file, n, s, "text", max_words=MAX_WORDS),
                view,
                params,
                _try(file, n, s, view, params),
                _text(file, n, s, "question", max_words=MAX_WORDS),
                _text(file, n, s, "answer", max_words=MAX_ANSWER_WORDS),
            )
        )
    return Lesson(name, title, summary, tuple(steps), built_in)


def load_lesson(path: Path, built_in: bool = False) -> Lesson:
    """The lesson in a file; LessonError (naming the file by its name only) if it cannot be read or is broken."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise LessonError(path.name, f"is larger than {MAX_BYTES // 1000} kB")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LessonError(path.name, "is not UTF-8 text") from None
    except OSError as e:
        raise LessonError(path.name, f"cannot be read ({e.strerror})") from None
    return parse_lesson(text, path.stem, path.name, built_in)


def teacher_dir() -> Path:
    """$RNN_EXPLORER_HOME/lessons (or ~/.rnn-explorer/lessons): where a teacher puts lesson files."""
    home = os.environ.get("RNN_EXPLORER_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".rnn-explorer") / "lessons"


def lesson_files() -> list[tuple[Path, bool]]:
    """(path, built in) of every lesson file: the built-in ones first, then the teacher's, each by name."""
    found = [(p, True) for p in sorted(BUILT_IN.glob("*" + SUFFIX))]
    folder = teacher_dir()
    if folder.is_dir():
        found += [(p, False) for p in sorted(folder.glob("*" + SUFFIX)) if p.is_file() and STEP_NAME.fullmatch(p.stem)]
    return found


def missing_models(lesson: Lesson, known: set[str], file: str) -> list[LessonError]:
    """A LessonError for every model a step's view names that is not among `known`."""
    out = []
    for n, step in enumerate(lesson.steps, 1):
        for key, name in step.models():
            if name not in known:
                out.append(LessonError(file, f"no model named {name!r} is available", n, key))
    return out
