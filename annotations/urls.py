from __future__ import annotations

from django.urls import path

from annotations import views, views_exports, views_items, views_metrics, views_retraining, views_review, views_users

urlpatterns = [
    path("", views.dataset_list, name="dataset-list"),
    path("datasets/new/", views.dataset_new, name="dataset-new"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<int:pk>/items/new/", views.item_new, name="item-new"),
    path("datasets/<int:pk>/items/", views_items.item_table_view, name="item-table"),
    path("datasets/<int:pk>/items/bulk/", views_items.item_bulk, name="item-bulk"),
    path("datasets/<int:pk>/import/", views.dataset_import, name="dataset-import"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
    path("datasets/<int:pk>/judge/", views.dataset_judge, name="dataset-judge"),
    path("datasets/<int:pk>/critic/", views.dataset_critic_progress, name="dataset-critic-progress"),
    path("items/<int:pk>/", views.item_detail, name="item-detail"),
    path("images/<str:sha256>/", views.image_file, name="image-file"),
    path("images/<str:sha256>/thumbnail/", views.image_thumbnail, name="image-thumbnail"),
    path("datasets/<int:pk>/review/", views_review.review_next_view, name="review-next"),
    path("datasets/<int:pk>/review/previous/", views_review.review_previous, name="review-previous"),
    path("items/<int:pk>/verdict/", views_review.review_submit, name="review-submit"),
    path("items/<int:pk>/reveal/", views_review.review_reveal_view, name="review-reveal"),
    path("items/<int:pk>/skip/", views_review.review_skip_view, name="review-skip"),
    path("items/<int:pk>/revise/", views_review.review_revise, name="review-revise"),
    path("items/<int:pk>/correct/", views_review.review_correct, name="review-correct"),
    path("history/", views_review.history, name="history"),
    path("datasets/<int:pk>/metrics/", views_metrics.dataset_metrics, name="dataset-metrics"),
    path("datasets/<int:pk>/swap-check/", views_metrics.dataset_swap_check, name="dataset-swap-check"),
    path("ping/", views.ping, name="ping"),
    path("exports/", views.export_list, name="export-list"),
    path("exports/<int:pk>/retrain/", views_retraining.export_retrain, name="export-retrain"),
    path("retraining/", views_retraining.retraining_list, name="retraining-list"),
    path("retraining/<int:pk>/", views_retraining.retraining_detail, name="retraining-detail"),
    path("retraining/<int:pk>/promote/", views_retraining.retraining_promote, name="retraining-promote"),
    path("exports/new/", views_exports.export_new, name="export-new"),
    path("exports/<int:pk>/", views_exports.export_detail, name="export-detail"),
    path("exports/<int:pk>/download/", views_exports.export_download, name="export-download"),
    path("exports/<int:pk>/files/<str:name>", views_exports.export_file_download, name="export-file"),
    path("account/", views.account, name="account"),
    path("users/", views_users.user_list, name="user-list"),
    path("users/<int:pk>/<slug:action>/", views_users.user_action, name="user-action"),
]
