"""Serial infrared thermometers: protocol parsers and encoders, reader, filter, simulator."""
