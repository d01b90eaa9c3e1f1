"""Read models: pure projections of the episode event stream."""
