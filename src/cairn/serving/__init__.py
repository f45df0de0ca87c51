"""Serving and batch scoring: ``cairn serve`` and ``cairn predict`` (docs/serving.md).

A client of the registry, not part of the tracking server: a model is fetched through the
same client interface as ``cairn.load_model`` (its digests checked), and the serving process
runs on its own. Modules:

- ``payloads``: the request and response shapes of MLflow's ``/invocations`` and the Open
  Inference Protocol V2, to and from the columns or tensor a model takes;
- ``app`` and ``batching``: the HTTP server and the micro-batcher behind it;
- ``prediction_log``: the asynchronous, sampled log of what was asked and answered;
- ``batch``: batch scoring of files, locally or on a Dask cluster (``batch_io`` reads and
  writes, ``batch_score`` turns predictions into columns, ``batch_dask`` is the Dask engine).
"""
