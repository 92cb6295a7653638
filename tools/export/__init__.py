"""ONNX export of the VAR Studio model bundle (docs/model-bundle.md): graph wrappers, external data, preview fit."""
