"""Which folders are logged models' folders (core/logged_models.py)."""

from __future__ import annotations

from cairn.core.logged_models import logged_model_id_of, new_logged_model_id


def test_only_a_logged_model_s_own_folder_names_it() -> None:
    model_id = new_logged_model_id()
    assert logged_model_id_of(f"models/{model_id}") == model_id
    # A Cairn model a user logged under models/ is a folder like any other, not a logged model.
    assert logged_model_id_of("models/classifier") is None
    assert logged_model_id_of(f"models/{model_id}/inner") is None
    assert logged_model_id_of(f"other/{model_id}") is None
    assert logged_model_id_of("model") is None
