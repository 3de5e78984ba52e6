"""The fake VK for tests: the same real HTTP server the local chat page uses."""
from app.devchat.vk_http import VkHttpServer as FakeVkServer

__all__ = ["FakeVkServer"]
