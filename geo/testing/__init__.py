"""Test helpers that ship with geo: fixture factories usable from tests and notebooks."""
