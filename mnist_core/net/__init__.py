"""The network and what looks inside it: MNIST on disk, images made MNIST-style, the MLP, its training loop,
scoring, and every view into it. Imports only torch, numpy, scipy, scikit-learn, Pillow and `mnist_core.folders`."""
