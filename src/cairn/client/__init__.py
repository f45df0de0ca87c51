"""The SDK: runs, the background writer, the query API, and the two ways to reach a store."""
