"""The instructor console: a web page served by OpenRange that runs lanes live and holds the
debrief (docs/console.md). `app` serves it, `auth` keeps accounts, `store` their tables and the
audit chain, `lane` is the lane process and `protocol` the messages between the two."""
