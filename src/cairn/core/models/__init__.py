"""Models as pure data: the manifest of a model folder, signatures, and model URIs."""
