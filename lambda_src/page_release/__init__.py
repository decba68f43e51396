"""The page release custom resources: publishing web/ to the site bucket, and the image bucket's upload CORS."""
