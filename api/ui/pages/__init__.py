"""The screens, one module per screen."""
