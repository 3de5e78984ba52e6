"""The local VK stand-in for `make run`: a VkEmulator behind a loopback HTTP server."""
from __future__ import annotations

from app.devchat.vk_http import VkHttpServer


def start_local_vk() -> VkHttpServer:
    return VkHttpServer().start()
