"""Helpers for the MNIST optimization course: one module per idea.

- data: MNIST as whole tensors
- models: softmax regression, MLP, seeding, device
- training: train / evaluate loops, History, Stopwatch
- plots: loss curves, contours with trajectories, digits, weight templates
- widgets: interactive figures from core ipywidgets
- checks: the exercise checkers
"""

__version__ = "0.1.0"
