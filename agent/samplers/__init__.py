"""Samplers: one module each, registered once, isolated from each other's failures."""

from .base import REGISTRY, Context, Sampler, Supervisor, load_all, register

__all__ = ["REGISTRY", "Context", "Sampler", "Supervisor", "load_all", "register"]
