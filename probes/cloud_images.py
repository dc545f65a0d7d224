"""The images as Glance's API lists them, apart from the compute and volume listings of
``cloud_api``: a Glance that fails (its database, its configuration, its process) leaves the
rest of the cloud observed, and the drill can name exactly what went dark
(``cloud/probe:cloud_images``)."""

from __future__ import annotations

from typing import Any

from stackdrill.api import CloudContext, CloudProbe

from .cloud_api import PAGE


class CloudImages(CloudProbe):
    name = "cloud_images"
    description = "images and their status, via openstacksdk (one paged list call)"

    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        images = context.access.connection().image.images(limit=PAGE)
        return {f"image:{image.name}/status": image.status for image in images}

