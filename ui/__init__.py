"""The app's front end beside pages/: what the pages share, a small module per purpose."""
