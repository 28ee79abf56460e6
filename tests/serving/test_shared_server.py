"""One server, many visitors (AppTest): untrusted metadata never renders as markup, owners, cost guard, limits,
heavy and broken models, odd URLs and drawings."""

import re
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest
from untrusted import EVIL_OWNER, MARKUP, evil_checkpoint

from explorer import ui
from explorer.model import checkpoint_file, checkpoints
from explorer.model.checkpoints import owner_dir, save_checkpoint, user_dir
from explorer.model.config import ModelConfig
from explorer.model.network import SequenceClassifier
from explorer.serving import budget
from explorer.ui import browser_view

APP = str(Path(__file__).resolve().parents[2] / "explorer" / "app.py")


@pytest.fixture(autouse=True)
def no_jobs_left(monkeypatch):
    monkeypatch.setenv("RNN_EXPLORER_MAX_JOB_MINUTES", "1e6")
    monkeypatch.setenv("RNN_EXPLORER_CONFIRM_JOB_MINUTES", "1e6")
    yield
    for job in ui.job_manager().active():
        ui.job_manager().stop(job)
        ui.job_manager().wait(job)


UNESCAPED = [
    re.compile(p)
    for p in (
        r"(?<!\\)\[[^\]]*(?<!\\)\]\(",  # [text](link) or ![alt](src)
        r"(?<!\\)<(?:img|b|script|a)\b",  # raw HTML
        r"(?<!\\)\$x",  # maths
        r"(?<![\\\u2060]):red\[",  # coloured text directive
        r"(?<!\\)\*\*strong",  # emphasis
        r"www\.evil",  # autolink: the word joiner must break it
        r"a@evil",
        r"10,000,000,000",  # absurd counts shown as given
    )
]


def rendered_text(at: AppTest) -> list[str]:
    """Everything on the page that Streamlit renders as Markdown."""
    texts = [
        e.value
        for kind in (
            "markdown",
            "caption",
            "success",
            "error",
            "warning",
            "info",
            "title",
            "subheader",
            "header",
            "toast",
        )
        for e in at.get(kind)
    ]
    texts += [m.label for m in at.metric] + [str(m.value) for m in at.metric]
    texts += [w.label for kind in ("checkbox", "button", "selectbox", "text_input", "toggle") for w in at.get(kind)]
    return texts


def assert_no_markup(at: AppTest) -> None:
    for text in rendered_text(at):
        for pattern in UNESCAPED:
            assert not pattern.search(text), (pattern.pattern, text)
    for code in at.code:  # code blocks are literal, but the command shown must be one the CLI parses
        assert "rm -rf" not in code.value and "evil" not in code.value


def page(name: str, query: dict | None = None, state: dict | None = None) -> AppTest:
    """A page as a visitor opens it: `query` as the URL's parameters, `state` as choices made on other pages."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    if name != "home":
        at.switch_page(f"../pages/{name}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_plain_escapes_markup_and_breaks_autolinks():
    text = ui.plain(MARKUP + "\nsecond line")
    for pattern in UNESCAPED[:-1]:
        assert not pattern.search(text)
    assert "\n" not in text and len(ui.plain("x" * 10_000)) < 2000
    assert ui.plain("lstm-128") == "lstm\\-128"


def test_a_metadata_injection_checkpoint_renders_nowhere_as_markup():
    evil_checkpoint(owner_dir(EVIL_OWNER))
    evil_checkpoint(user_dir(), name="local-evil")
    listed = f"{EVIL_OWNER[:8]}/evil"
    home = page("home")
    assert_no_markup(home)
    assert any(m.value == "—" for m in home.metric if m.label == "Test accuracy")
    train = page("train")
    train.toggle(key="show_others").set_value(True).run()
    for name in (listed, "local-evil"):
        train.selectbox(key="t_checkpoint").set_value(name)
        train.run()
        assert not train.exception
        assert_no_markup(train)
        line = next(m.value for m in train.markdown if m.value.startswith("**GRU-16**"))
        assert "test accuracy — · unrecorded data · stopped early" not in line  # "stopped" was markup, not True
        assert "created —" in line and all("evil" not in c.value for c in train.code)
        assert any("holds no command of this app's CLI" in c.value for c in train.caption)
    for name in ("watch", "gradients"):
        closer = {"closer": "1"} if name == "watch" else None  # Watch's closer look draws the server's figures
        at = page(name, closer, state={"model": listed, "grad_models": listed})
        assert_no_markup(at)
        assert at.get("plotly_chart")  # the model itself is fine: it is drawn
    assert page("watch", state={"model": listed}).selectbox(key="_widget_model").value == listed


def test_odd_url_parameters_are_neither_echoed_in_full_nor_rendered():
    at = page("watch", {"model": "[pwned](http://evil.example)"})
    warning = at.warning[0].value
    assert "No model is named" in warning and "lstm\\-128" in warning
    assert_no_markup(at)
    at = page("watch", {"model": "x" * 5000, "digit": "y" * 5000})
    assert not at.warning and all(len(t) < 1000 for t in rendered_text(at))  # ignored: longer than any name


def two_visitors():
    a, b = page("train"), page("train")
    assert a.session_state["_owner"] != b.session_state["_owner"]
    return a, b


def upload(at: AppTest, name: str, config: ModelConfig) -> None:
    blob = save_checkpoint(user_dir().parent / "scratch.safetensors", SequenceClassifier(config)).read_bytes()
    at.file_uploader[0].set_value((f"{name}.safetensors", blob, "application/octet-stream"))
    at.run()
    next(b for b in at.button if b.label == "Add checkpoint").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]


def test_only_the_owner_can_delete_or_replace_and_everyone_sees_whose():
    a, b = two_visitors()
    upload(a, "shared-name", ModelConfig("lstm", 8))
    upload(b, "shared-name", ModelConfig("gru", 8))  # b's own copy: a's LSTM is untouched
    mine_a, mine_b = (f"{v.session_state['_owner'][:8]}/shared-name" for v in (a, b))
    assert checkpoints.find_checkpoint(mine_a).config == ModelConfig("lstm", 8)
    assert checkpoints.find_checkpoint(mine_b).config == ModelConfig("gru", 8)
    b.toggle(key="show_others").set_value(True).run()
    b.selectbox(key="t_checkpoint").set_value(mine_a)
    b.run()
    tag = ui.owner_tag(a.session_state["_owner"])
    assert "Delete" not in [x.label for x in b.button] and "t_sure" not in [c.key for c in b.checkbox]
    assert any(
        f"This checkpoint is {tag}'s: you can explore and download it, but only its owner" in c.value for c in b.caption
    )
    assert any(o.endswith(f"shared-name ({tag}'s)") for o in b.selectbox(key="t_checkpoint").options)
    assert any(o.endswith("shared-name (yours)") for o in b.selectbox(key="t_checkpoint").options)
    a.run()
    a.selectbox(key="t_checkpoint").set_value(mine_a)
    a.run()
    assert "Delete" in [x.label for x in a.button]


def test_the_cost_guard_refuses_over_the_limit_and_asks_above_the_threshold(monkeypatch):
    monkeypatch.setenv("RNN_EXPLORER_MAX_JOB_MINUTES", "0.0001")
    at = page("train")
    at.get_by_key("t_hidden").set_value(16)
    at.get_by_key("t_epochs").set_value(2)
    at.run()
    next(x for x in at.button if x.label == "Start training").click()
    at.run()
    assert "over its limit" in at.error[0].value and ui.job_manager().latest(at.session_state["_owner"]) is None
    monkeypatch.setenv("RNN_EXPLORER_MAX_JOB_MINUTES", "1e6")
    monkeypatch.setenv("RNN_EXPLORER_CONFIRM_JOB_MINUTES", "0.0001")
    at.run()
    assert "will take about" in at.warning[0].value and ui.job_manager().latest(at.session_state["_owner"]) is None
    next(x for x in at.button if x.label.startswith("Start anyway")).click()
    at.run()
    job = ui.job_manager().latest(at.session_state["_owner"])
    assert job is not None and job.kind == "train"
    ui.job_manager().wait(job)
    assert job.status == "done"


def test_a_model_whose_checkpoint_would_be_too_large_is_refused_before_training(monkeypatch):
    monkeypatch.setattr(checkpoint_file, "MAX_BYTES", 200_000)

    at = page("train")
    at.get_by_key("t_hidden").set_value(128)
    at.run()
    next(x for x in at.button if x.label == "Start training").click()
    at.run()
    assert "limit for checkpoints" in at.error[0].value and ui.job_manager().latest(at.session_state["_owner"]) is None


def test_a_pt_file_gets_a_clear_message():
    at = page("train")
    at.file_uploader[0].set_value(("model.pt", b"PK\x03\x04" + b"\0" * 100, "application/octet-stream"))
    at.run()
    next(x for x in at.button if x.label == "Add checkpoint").click()
    at.run()
    message = at.error[0].value
    assert "(only .safetensors checkpoints can be added)" in message and "pickle" in message


def test_heavy_models_get_a_smaller_batch_and_say_so(monkeypatch):
    monkeypatch.setitem(budget.COST, "profile", budget.COST["profile"] * 40)  # as if the models were 40x larger
    monkeypatch.setitem(budget.COST, "jacobian", 1.0)  # a Jacobian too slow for even one digit
    at = page("gradients")
    assert not at.error
    reduced = next(i.value for i in at.info if "batch is reduced" in i.value)
    n = budget.digits_for("profile", ModelConfig("lstm", 128), 256)
    assert f"reduced to {n} digits (of 256 asked for)" in reduced and n < 256
    assert any("Left out, too large for this view here" in c.value for c in at.caption)


def test_a_model_with_overflowing_weights_says_what_is_wrong():
    model = SequenceClassifier(ModelConfig("lstm", 8))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1e38)  # every pre-activation overflows: logits are inf, probabilities NaN
    save_checkpoint(owner_dir(EVIL_OWNER) / "huge.safetensors", model)
    name = f"{EVIL_OWNER[:8]}/huge"
    watch = page("watch", {"closer": "1"}, state={"model": name})
    assert "not finite" in watch.error[0].value and not watch.get("plotly_chart") and not watch.metric
    grads = page("gradients", state={"grad_models": name})
    assert "Not finite" in grads.error[0].value


# ---- pickers: the shipped models and the visitor's own first, other visitors' behind a switch ------------------


def listed(options) -> list[str]:
    """What a picker lists, in order, without the architecture: 'lstm-128', 'mine (yours)', ..."""
    return [o.split(" · ", 1)[1] for o in options]


def visitors_with_models() -> tuple[AppTest, AppTest, dict[str, str]]:
    """Visitors A and B, each with an uploaded model, and a model the server's operator put in the user folder;
    the listed names of A's and B's models, and how B's pickers label the non-shipped ones."""
    a, b = sorted(two_visitors(), key=lambda v: v.session_state["_owner"])  # A's folder is read first
    upload(a, "a-model", ModelConfig("gru", 8))
    upload(b, "b-model", ModelConfig("rnn", 8))
    save_checkpoint(user_dir() / "server-model.safetensors", SequenceClassifier(ModelConfig("lstm", 8)))
    owner_a, owner_b = (v.session_state["_owner"] for v in (a, b))
    names = {"a": f"{owner_a[:8]}/a-model", "b": f"{owner_b[:8]}/b-model"}
    labels = {
        "local": "server-model (the server's)",
        "b": "b-model (yours)",
        "a": f"a-model ({ui.owner_tag(owner_a)}'s)",
    }
    return a, b, names | {f"{k} label": v for k, v in labels.items()}


def on_page(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"../pages/{name}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_pickers_list_shipped_server_own_and_others_only_behind_the_switch():
    a, b, m = visitors_with_models()
    shipped = [i.name for i in checkpoints.list_checkpoints(include_user=False)]
    mine = [*shipped, m["local label"], m["b label"]]
    switch = b.toggle(key="show_others")
    assert not switch.value and "have trained or added 1 model on this server" in switch.help
    assert "a-model" not in switch.help and m["a"] not in switch.help  # a count, no names
    for shown, expected in ((False, mine), (True, [*mine, m["a label"]])):
        if shown:
            b.toggle(key="show_others").set_value(True).run()
        watch = on_page(b, "watch")
        assert listed(watch.selectbox(key="_widget_model").options) == expected
        grads = on_page(b, "gradients")
        assert listed(grads.multiselect(key="_widget_grad_models").options) == expected
        home = on_page(b, "home")
        cards = [x.key.removeprefix("watch_") for x in home.button if (x.key or "").startswith("watch_")]
        assert cards == [*shipped, "server-model", m["b"], *([m["a"]] if shown else [])]
    assert b.toggle(key="show_others").value  # kept across pages
    assert m["b"] not in listed(on_page(a, "watch").selectbox(key="_widget_model").options)  # A's own switch


def test_a_link_to_another_visitors_model_opens_it_labelled_as_theirs():
    _, _, m = visitors_with_models()
    shipped = [i.name for i in checkpoints.list_checkpoints(include_user=False)]
    at = page("watch", query={"model": m["a"]})  # a third visitor, whose switch is off
    picker = at.selectbox(key="_widget_model")
    assert picker.value == m["a"] and listed(picker.options) == [*shipped, m["local label"], m["a label"]]
    assert not at.warning and at.get("bidi_component")  # the view got it
    grads = page("gradients", query={"grad_models": f"rnn-128,{m['a']}"})
    assert grads.multiselect(key="_widget_grad_models").value == ["rnn-128", m["a"]]


def test_presentation_key_m_steps_through_the_visible_models_only(monkeypatch):
    _, b, m = visitors_with_models()
    real, pressed = browser_view.watch_view, ["not yet"]

    def press_m_once(*args, **kwargs):  # the view reports key M once, then behaves as usual
        return real(*args, **kwargs) if pressed else pressed.append("done") or {"key": "m"}

    monkeypatch.setattr(browser_view, "watch_view", press_m_once)
    watch = on_page(b, "watch")
    first = checkpoints.list_checkpoints(include_user=False)[0].name
    for shown, after in ((False, first), (True, m["a"])):  # from B's own, the last of B's models
        watch.toggle(key="show_others").set_value(shown)
        watch.selectbox(key="_widget_model").set_value(m["b"])
        pressed.clear()
        watch.run()
        assert pressed and watch.session_state["model"] == after


def everything_sent(at: AppTest) -> str:
    """Every element the page sends the browser, as protobuf text: labels, help, options, values, widget ids."""

    def walk(node):
        if getattr(node, "proto", None) is not None and node.type != "bidi_component":  # model blobs: names only
            yield str(node.proto)
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    return "\n".join(walk(at._tree))


@pytest.mark.parametrize("name", ["home", "watch", "gradients", "truncation", "math", "train"])
def test_no_page_shows_a_server_path(name, user_home):
    _, b, m = visitors_with_models()
    b.toggle(key="show_others").set_value(True).run()
    chosen = {"model": "lstm-128", "compare_on": "1", "compare": m["a"], "grad_models": f"lstm-128,{m['a']}"}
    for key, value in chosen.items():  # a shipped model, with its training progress, beside A's
        b.session_state[key] = value
    at = on_page(b, name)
    sent = everything_sent(at)
    for path in (str(user_home), str(checkpoints.shipped_dir().parent)):
        assert path not in sent, (path, [line for line in sent.splitlines() if path in line][:3])


def test_a_file_that_cannot_be_read_is_named_but_its_path_is_not(monkeypatch):
    def refuse(info):
        raise PermissionError(13, "Permission denied", str(info.path))

    monkeypatch.setattr("explorer.ui.computed.load_model", refuse)  # where a page loads the weights
    at = page("gradients")  # its first model: the RNN
    assert at.error[0].value == "Could not load rnn\\-128: Permission denied"
    real = type(checkpoints.shipped_dir()).read_bytes

    def unreadable(path):  # Watch it read reads the file itself, to pack it for the browser
        if path.suffix == ".safetensors":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(type(checkpoints.shipped_dir()), "read_bytes", unreadable)
    ui.loaders.packed_model.clear()  # packed by an earlier test: the file is read again
    at = page("watch")
    assert at.error[0].value == "Could not load lstm\\-128: " + ui.plain(
        "could not read lstm-128.safetensors: Permission denied"
    )
