"""CLI commands beyond the core ones, each module exposing ``register(app)``; ``policysim.cli``
registers them."""
