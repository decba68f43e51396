"""Labels films (.mp4/.mov) with Rekognition Video: a starter that starts jobs, a collector that stores their results."""
