"""Object storage: the `ObjectStore` port, its filesystem and S3 adapters, and the factory."""

from artifactsvc.objects.factory import open_object_store
from artifactsvc.objects.port import ObjectInfo, ObjectStore

__all__ = ["ObjectInfo", "ObjectStore", "open_object_store"]
