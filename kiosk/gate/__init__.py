"""Gate relay, buzzer and LEDs: ``signals`` (the protocol and the outcome patterns), ``gpio``
(the gpiozero adapter, its only importer) and ``sim`` (the simulator)."""
