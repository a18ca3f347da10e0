"""Migration from SLiMS (Senayan Library Management System) 9: ``flask --app opac import-slims``."""
