"""Pages. ``home`` stays un-namespaced: settings redirect to it after login."""

from django.urls import path

from bookings import views

urlpatterns = [
    path("", views.coach_list, name="home"),
]
