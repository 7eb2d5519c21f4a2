"""densecheck: is your Dense/Linear layer really fully-connected?

Static analysis (libcst, never executing the analysed code) of Keras and PyTorch model source: every
``Dense`` / ``nn.Linear`` is reported with the shape it is applied to, how it behaves (fully connected,
pointwise = 1x1 convolution, or mixing along a spatial axis) and its parameter counts.
"""

__version__ = "0.1.0"
