"""Record a site's MQTT traffic and database changes, snapshot its databases, and replay them on
a virtual clock through the real actors (`elfe-supervisor record | snapshot | replay`)."""
