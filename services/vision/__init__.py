"""Vision tier: a V-JEPA 2 service for images and video (embeddings, action labels, grounded chat answers)."""
