"""The web page's API: one function behind the HTTP API's routes (web-design.md, "The API")."""
