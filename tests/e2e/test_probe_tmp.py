def test_probe(server_process):
    import httpx
    assert httpx.get(server_process.url + "/health").status_code == 200
