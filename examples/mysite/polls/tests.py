import datetime

from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from .models import Question


class QuestionTests(TestCase):
    def test_future_question_is_not_recent(self):
        q = Question(pub_date=timezone.now() + datetime.timedelta(days=30))
        self.assertIs(q.was_published_recently(), False)

    def test_index_lists_questions(self):
        Question.objects.create(question_text='What is new?', pub_date=timezone.now())
        response = self.client.get(reverse('polls:index'))
        self.assertContains(response, 'What is new?')

    def test_healthz(self):
        response = self.client.get('/healthz')
        self.assertEqual(response.content, b'ok\n')
