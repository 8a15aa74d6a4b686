"""mnist_core: the engine of the MNIST MLP app (data, model, training, evaluation, store); no Streamlit."""
