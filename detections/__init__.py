"""detections"""
