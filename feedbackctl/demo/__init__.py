"""`feedbackctl demo`: the whole pipeline on generated traffic, watched live, then summarised."""
