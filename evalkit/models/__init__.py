"""The model seam: one abstract Model, backends registered through the ``evalkit.models`` entry points."""

from evalkit.models.base import Model, ModelSpec, Request
from evalkit.models.registry import available_backends, load_backend, resolve_model

__all__ = ["Model", "ModelSpec", "Request", "available_backends", "load_backend", "resolve_model"]
