"""Lesson files: the built-in lesson loads, a teacher's file is found, and each kind of broken file is refused with
an error naming the file, the step and the field."""

import pytest

from explorer.model.checkpoints import list_checkpoints
from explorer.readings.lesson_file import (
    BUILT_IN,
    MAX_WORDS,
    VIEWS,
    LessonError,
    lesson_files,
    load_lesson,
    missing_models,
    parse_lesson,
    teacher_dir,
)

GOOD = """
title = "A short lesson"

[[steps]]
title = "One"
text = "A plain RNN reads a digit."
question = "Why?"
answer = "Because."
[steps.view]
kind = "watch"
model = "rnn-128"
[steps.try]
control = "digit"
default = 3

[[steps]]
title = "Two"
text = "The forget-gate bias."
question = "Which bias?"
answer = "One."
[steps.view]
kind = "forget"
models = { "0" = "delay-lstm-64-bias0", "1" = "delay-lstm-64" }
[steps.try]
control = "bias"
default = 1
"""


def test_the_built_in_lesson_has_twelve_valid_steps_whose_models_ship():
    lesson = load_lesson(BUILT_IN / "why-lstms.toml", built_in=True)
    assert len(lesson.steps) == 12 and lesson.built_in
    assert {s.view for s in lesson.steps} == set(VIEWS)  # every kind of view is used
    assert {s.tryit.control for s in lesson.steps} == {"digit", "delay", "truncation", "bias"}
    assert all(len(s.text.split()) <= 80 for s in lesson.steps)
    assert missing_models(lesson, {i.name for i in list_checkpoints()}, "why-lstms.toml") == []


def test_a_good_file_loads_with_its_fields():
    lesson = parse_lesson(GOOD, "short", "short.toml")
    one, two = lesson.steps
    assert (lesson.title, one.title, one.view, one.params, one.tryit.control, one.tryit.default) == (
        "A short lesson",
        "One",
        "watch",
        {"model": "rnn-128"},
        "digit",
        3,
    )
    assert one.tryit.label == "Digit"  # a control without a label is named after itself
    assert two.tryit.default == "1"
    assert two.models() == [("view.models", "delay-lstm-64-bias0"), ("view.models", "delay-lstm-64")]


BROKEN = {
    "not TOML": ("title = ", None, None, "not valid TOML"),
    "no steps": ('title = "x"', None, "steps", "at least one"),
    "unknown lesson field": ('colour = "red"\n' + GOOD, None, "colour", "not a field of a lesson"),
    "missing text": (GOOD.replace('text = "The forget-gate bias."', ""), 2, "text", "is missing"),
    "text not a string": (GOOD.replace('"A plain RNN reads a digit."', "3"), 1, "text", "non-empty text"),
    "text too long": (GOOD.replace("A plain RNN reads a digit.", "word " * (MAX_WORDS + 1)), 1, "text", "words"),
    "unknown view": (GOOD.replace('kind = "watch"', 'kind = "movie"'), 1, "view.kind", "must be one of"),
    "view missing": (GOOD.replace('[steps.view]\nkind = "watch"\nmodel = "rnn-128"', ""), 1, "view", "missing"),
    "view without its model": (GOOD.replace('model = "rnn-128"', ""), 1, "view.model", "needs it"),
    "bad model name": (GOOD.replace('"rnn-128"', '"../etc/passwd"'), 1, "view.model", "model's name"),
    "unknown view field": (GOOD.replace('model = "rnn-128"', 'model = "rnn-128"\nsize = 3'), 1, "size", "watch view"),
    "control the view does not take": (
        GOOD.replace('control = "digit"', 'control = "bias"'),
        1,
        "try.control",
        "takes",
    ),
    "default out of range": (GOOD.replace("default = 3", "default = 5000"), 1, "try.default", "0..999"),
    "bias not in the view": (GOOD.replace("default = 1", "default = 2"), 2, "try.default", "biases"),
    "bias that is no number": (GOOD.replace('"0" =', '"zero" ='), 2, "view.models", "not a number"),
    "no question": (GOOD.replace('question = "Why?"', ""), 1, "question", "missing"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_kind_of_broken_file_names_the_file_step_and_field(case):
    text, step, field, words = BROKEN[case]
    with pytest.raises(LessonError) as raised:
        parse_lesson(text, "broken", "broken.toml")
    e = raised.value
    assert (e.file, e.step, e.field) == ("broken.toml", step, field)
    assert words in e.problem
    assert str(e).startswith("broken.toml") and (step is None or f"step {step}" in str(e))
    assert field is None or f"field '{field}'" in str(e)


def test_a_missing_model_is_named_with_its_step_and_field():
    lesson = parse_lesson(GOOD, "short", "short.toml")
    (error,) = missing_models(lesson, {"rnn-128", "delay-lstm-64"}, "short.toml")
    assert (error.step, error.field) == (2, "view.models") and "delay-lstm-64-bias0" in error.problem


def test_a_teachers_lesson_is_found_in_rnn_explorer_home_and_a_broken_one_says_why(user_home):
    folder = user_home / "lessons"
    folder.mkdir()
    (folder / "mine.toml").write_text(GOOD, encoding="utf-8")
    (folder / "broken.toml").write_bytes(b"\xff\xfe not text")
    assert teacher_dir() == folder
    files = lesson_files()
    assert files[0] == (BUILT_IN / "why-lstms.toml", True)
    assert (folder / "mine.toml", False) in files and (folder / "broken.toml", False) in files
    mine = load_lesson(folder / "mine.toml")
    assert mine.name == "mine" and not mine.built_in and len(mine.steps) == 2
    with pytest.raises(LessonError, match="broken.toml: is not UTF-8 text"):
        load_lesson(folder / "broken.toml")
