"""The run query language: parse text into a tree (parser), evaluate it (evaluate), and
compile it to SQL (cairn.store.sql.search). See docs/query.md."""
