from __future__ import annotations

from django.urls import path

from annotations import views

urlpatterns = [
    path("", views.dataset_list, name="dataset-list"),
    path("datasets/new/", views.dataset_new, name="dataset-new"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<int:pk>/items/new/", views.item_new, name="item-new"),
    path("datasets/<int:pk>/import/", views.dataset_import, name="dataset-import"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
    path("datasets/<int:pk>/judge/", views.dataset_judge, name="dataset-judge"),
    path("datasets/<int:pk>/critic/", views.dataset_critic_progress, name="dataset-critic-progress"),
    path("items/<int:pk>/", views.item_detail, name="item-detail"),
    path("images/<str:sha256>/", views.image_file, name="image-file"),
    path("images/<str:sha256>/thumbnail/", views.image_thumbnail, name="image-thumbnail"),
    path("exports/", views.export_list, name="export-list"),
    path("account/", views.account, name="account"),
]
