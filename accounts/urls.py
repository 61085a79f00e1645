from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.account_login, name="login"),
    path("logout/", views.account_logout, name="logout"),
    path("register/", views.account_register, name="register"),
    path("register/done/", views.account_register_done, name="register_done"),
    path(
        "register/confirm/<uidb64>/<token>/",
        views.account_register_confirm,
        name="register_confirm",
    ),
    path("account/", views.account_detail, name="account"),
    path("account/password/", views.account_password_change, name="password_change"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path(
        "password-reset/sent/",
        views.password_reset_done,
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        views.password_reset_complete,
        name="password_reset_complete",
    ),
]
