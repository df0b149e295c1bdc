"""Training: what is prepared before the first step, the loop, its resumable state and checkpoints, and
the rule that stops a diverging run."""
