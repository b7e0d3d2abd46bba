from django.shortcuts import render


def index(request):
    return render(request, 'pages/index.html', {'greeting': 'hello from django'})
