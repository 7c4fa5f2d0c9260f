"""Install kdep_mm (``pip install -e .``); the OpenMMLab stack itself is
installed by ``tools/setup_env.sh``, which knows how to build mmcv."""
import os.path as osp
from setuptools import find_packages, setup


def read_version():
    ns = {}
    with open(osp.join('kdep_mm', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), ns)
    return ns['__version__']


def parse_requirements(fname):
    reqs = []
    with open(fname) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line and not line.startswith('-r'):
                reqs.append(line)
    return reqs


if __name__ == '__main__':
    setup(
        name='kdep_mm',
        version=read_version(),
        description='KDEP: knowledge distillation as efficient pre-training '
        'for OpenMMLab',
        long_description=open('README.md').read(),
        long_description_content_type='text/markdown',
        packages=find_packages(include=['kdep_mm', 'kdep_mm.*']),
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require=dict(
            mim=parse_requirements('requirements/mminstall.txt'),
            tests=parse_requirements('requirements/tests.txt'),
            optional=parse_requirements('requirements/optional.txt'),
        ),
        zip_safe=False)
