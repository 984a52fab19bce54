"""The needs-diagnostics questionnaire (clauses 3.1, 7.5) a methodist starts from."""

from __future__ import annotations

from server.db.models.questionnaires import QuestionKind, QuestionTag
from server.domain.year.questionnaires.inputs import QuestionInput

NEEDS_TITLE = "Диагностика профессиональных потребностей педагогов"
NEEDS_DESCRIPTION = (
    "Анкета помогает сетевому методическому объединению спланировать работу на учебный год "
    "с учётом ваших профессиональных потребностей. Ответы анонимны."
)
NEEDS_QUESTIONS: list[QuestionInput] = [
    QuestionInput(
        QuestionKind.single,
        "Ваш педагогический стаж",
        True,
        ("до 3 лет", "3–10 лет", "11–20 лет", "более 20 лет"),
        tag=QuestionTag.experience,
    ),
    QuestionInput(
        QuestionKind.multiple,
        "Какие темы вам интересны для обсуждения на заседаниях СМО?",
        True,
        (
            "Обновлённые ФГОС и федеральные рабочие программы",
            "Формирование функциональной грамотности",
            "Подготовка обучающихся к ГИА (ОГЭ, ЕГЭ)",
            "Цифровые образовательные ресурсы и дистанционное обучение",
            "Работа с одарёнными детьми",
            "Работа с обучающимися с ОВЗ, инклюзивное образование",
            "Проектная и исследовательская деятельность",
            "Оценивание образовательных результатов",
            "Воспитательная работа и классное руководство",
        ),
        allow_other=True,
        tag=QuestionTag.needs_topics,
    ),
    QuestionInput(
        QuestionKind.multiple,
        "Какие формы методической работы вы предпочитаете?",
        False,
        (
            "Семинар",
            "Семинар-практикум",
            "Мастер-класс",
            "Круглый стол",
            "Открытый урок",
            "Консультация",
            "Педагогическая мастерская",
        ),
        allow_other=True,
    ),
    QuestionInput(
        QuestionKind.multiple,
        "С какими затруднениями вы сталкиваетесь в работе?",
        False,
        (
            "Планирование уроков по обновлённым ФГОС",
            "Мотивация обучающихся",
            "Использование цифровых технологий",
            "Оценивание и анализ результатов",
            "Работа с родителями",
            "Нехватка методических материалов",
        ),
        allow_other=True,
    ),
    QuestionInput(
        QuestionKind.scale, "Оцените свою готовность применять цифровые технологии на уроках (1–5)", True
    ),
    QuestionInput(QuestionKind.scale, "Оцените свою готовность работать по обновлённым ФГОС (1–5)", True),
    QuestionInput(
        QuestionKind.scale,
        "Оцените свою готовность к проектной и исследовательской деятельности с обучающимися (1–5)",
        True,
    ),
    QuestionInput(QuestionKind.text, "Каким опытом вы готовы поделиться с коллегами?", False),
    QuestionInput(QuestionKind.text, "Ваши предложения по работе СМО", False),
]
