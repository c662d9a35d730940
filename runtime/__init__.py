"""How the actors are hosted in processes: the in-process pump, worker threads for blocking
work, the control socket, the daemon."""
