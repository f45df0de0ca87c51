"""Framework integrations: one line of logging for the libraries people train with.

``cairn.autolog()`` switches on every integration whose framework is installed; each module
here also has its own ``autolog()`` and explicit objects (callbacks, loggers) for those who
prefer them. Importing Cairn imports none of the frameworks (docs/integrations.md).
"""
