"""Calling a deployed model from code, as CML's `call_model` does."""

from . import _client

__all__ = ["call_model"]


def call_model(model_access_key, ipt, api_key=None):
    """Calls a deployed model: POST LATHE_API_URL/model with `{"accessKey", "request": ipt}`.

    Returns the model's answer envelope as it is, also when the call failed:
    `{"success": true, "response": {"prediction": ..., "uuid": ...}, ...}` or
    `{"success": false, "error": {...}}`. `api_key` is sent as `Authorization: Bearer` (models
    deployed with authentication need one); without it LATHE_API_KEY is sent when set. Raises
    LatheError only when no JSON answer came back (server unreachable, timeout, not JSON).
    """
    key = api_key or _client.api_key()
    _, answer = _client.post_answer("/model", {"accessKey": model_access_key, "request": ipt}, key)
    return answer
