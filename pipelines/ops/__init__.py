"""How ops learn what happened: failure alerts (alerts.py); the build, its schedule and sensors
(assets.py).
"""
