"""The Streamlit side of the app: the only package besides app.py that imports Streamlit.

state: choices kept across reruns, pages and reloads; the visitor's identity; escaping untrusted text.
loaders: cached calls that need no torch (digits, the model listing, headers); computed: cached engine calls on a
model's weights (torch), imported when a page first uses one of its names (`ui.gradient_profile` and so on),
so a page that never computes on the server (Watch it read) never imports torch. widgets: pickers the pages
share. Pages use them as `ui.<name>`.

Layer 8: may import every layer below (data to serving); pages and app.py import it.
"""

from .loaders import available_models, model_key, model_points, model_task, npz_bytes, sample, skipped_checkpoints
from .state import keep_owner_cookie, kept, owner_id, owner_tag, plain, remember, remembered, synced, url_toggle
from .widgets import (
    NO_MODELS,
    Digit,
    choice,
    loaded_model,
    loss_at_picker,
    model_labels,
    model_multiselect,
    model_option_label,
    model_picker,
    others_switch,
    unreadable,
    visible_models,
    whose,
)

COMPUTED = (  # ui.computed's names, imported on first use
    "JACOBIAN_DIGITS",
    "at_snapshot",
    "batch_of_test_digits",
    "bias_rows",
    "digit_chain",
    "final_state_jacobian",
    "first_principles_result",
    "gradient_check_result",
    "gradient_profile",
    "job_manager",
    "load_model",
    "model_blob",
    "occlusion_map",
    "parameter_count",
    "predicted_classes",
    "recorded_meta",
    "saturation",
    "trace_digit",
    "unit_view",
    "untrained_copy",
)


def __getattr__(name: str):
    if name in COMPUTED:
        from . import computed

        return getattr(computed, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "JACOBIAN_DIGITS",
    "NO_MODELS",
    "Digit",
    "at_snapshot",
    "available_models",
    "batch_of_test_digits",
    "bias_rows",
    "choice",
    "digit_chain",
    "final_state_jacobian",
    "first_principles_result",
    "gradient_check_result",
    "gradient_profile",
    "job_manager",
    "keep_owner_cookie",
    "kept",
    "load_model",
    "loaded_model",
    "loss_at_picker",
    "model_blob",
    "model_key",
    "model_labels",
    "model_multiselect",
    "model_option_label",
    "model_picker",
    "model_points",
    "model_task",
    "npz_bytes",
    "occlusion_map",
    "others_switch",
    "owner_id",
    "owner_tag",
    "parameter_count",
    "plain",
    "predicted_classes",
    "recorded_meta",
    "remember",
    "remembered",
    "sample",
    "saturation",
    "skipped_checkpoints",
    "synced",
    "trace_digit",
    "unit_view",
    "unreadable",
    "untrained_copy",
    "url_toggle",
    "visible_models",
    "whose",
]
