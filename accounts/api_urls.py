"""The auth API, mounted at ``/api/auth/`` (dj-rest-auth's paths)."""

from django.urls import path

from accounts.api import views

app_name = "auth_api"

urlpatterns = [
    path("login/", views.UserLoginApi.as_view(), name="login"),
    path("logout/", views.UserLogoutApi.as_view(), name="logout"),
    path("user/", views.UserDetailApi.as_view(), name="user"),
    path("token/refresh/", views.TokenRefreshApi.as_view(), name="token_refresh"),
    path("registration/", views.UserRegisterApi.as_view(), name="register"),
]
